from arenakit.data.synthetic.sample import main

main()
